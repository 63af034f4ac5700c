"""Password generator and policy (an administrator's runtime setting `vault.password_policy`)."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass
from typing import Any

from certvault.errors import InvalidInput

SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"
AMBIGUOUS = set("Il1O0o")
_CLASS_CHECKS = (("lowercase", "a lowercase letter", string.ascii_lowercase),
                 ("uppercase", "an uppercase letter", string.ascii_uppercase),
                 ("digits", "a digit", string.digits), ("symbols", "a symbol", SYMBOLS))


@dataclass(frozen=True)
class PasswordPolicy:
    length: int = 24
    lowercase: bool = True
    uppercase: bool = True
    digits: bool = True
    symbols: bool = True
    exclude_ambiguous: bool = True
    enforce_on_update: bool = False  # check passwords people type against min_length and classes
    min_length: int = 12

    @classmethod
    def from_setting(cls, value: Any) -> PasswordPolicy:
        if not value:
            return cls()
        if not isinstance(value, dict):
            raise InvalidInput("vault.password_policy must be an object")
        unknown = set(value) - set(asdict(cls()))
        if unknown:
            raise InvalidInput(f"unknown password policy option(s): {', '.join(sorted(unknown))}")
        policy = cls(**value)
        policy.validate()
        return policy

    def validate(self) -> None:
        if not 8 <= self.length <= 256:
            raise InvalidInput("password length must be between 8 and 256")
        if not any((self.lowercase, self.uppercase, self.digits, self.symbols)):
            raise InvalidInput("the password policy must allow at least one character class")

    def classes(self) -> list[str]:
        chosen = [(self.lowercase, string.ascii_lowercase), (self.uppercase, string.ascii_uppercase),
                  (self.digits, string.digits), (self.symbols, SYMBOLS)]
        result = []
        for wanted, chars in chosen:
            if wanted:
                result.append("".join(c for c in chars if not (self.exclude_ambiguous and c in AMBIGUOUS)))
        return result


def generate(policy: PasswordPolicy) -> str:
    """A random password with at least one character of every class the policy allows."""
    policy.validate()
    classes = policy.classes()
    alphabet = "".join(classes)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(policy.length))
        if all(any(c in cls for c in candidate) for cls in classes):
            return candidate


def check(policy: PasswordPolicy, password: str) -> None:
    if not policy.enforce_on_update:
        return
    if len(password) < policy.min_length:
        raise InvalidInput(f"the password policy needs at least {policy.min_length} characters")
    missing = [label for attr, label, chars in _CLASS_CHECKS
               if getattr(policy, attr) and not any(c in chars for c in password)]
    if missing:
        raise InvalidInput(f"the password policy needs {', '.join(missing)}")
