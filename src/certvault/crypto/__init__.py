"""Pure cryptography helpers over `cryptography`: keys, CSRs, X.509 parsing, AES-GCM envelopes."""
