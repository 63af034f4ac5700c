"""Well-known ACME directories, selectable by a short name."""

from __future__ import annotations

from urllib.parse import urlparse

PRESETS: dict[str, tuple[str, str]] = {
    "letsencrypt": ("Let's Encrypt", "https://acme-v02.api.letsencrypt.org/directory"),
    "letsencrypt-staging": ("Let's Encrypt (staging)", "https://acme-staging-v02.api.letsencrypt.org/directory"),
    "zerossl": ("ZeroSSL", "https://acme.zerossl.com/v2/DV90"),
    "google": ("Google Trust Services", "https://dv.acme-v02.api.pki.goog/directory"),
    "buypass": ("Buypass", "https://api.buypass.com/acme/directory"),
}


def resolve_directory(value: str) -> str:
    """A preset name or an https URL; anything else is refused by the caller."""
    key = value.strip().lower()
    if key in PRESETS:
        return PRESETS[key][1]
    return value.strip()


def ca_name(directory_url: str) -> str:
    for title, url in PRESETS.values():
        if url == directory_url:
            return title
    parsed = urlparse(directory_url)
    return parsed.netloc or directory_url
