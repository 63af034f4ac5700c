"""Pure TLS wire code: ClientHello builder, record parser, cipher-suite table."""
