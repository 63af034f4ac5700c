"""ACME engine benchmark against Pebble (DNS-01 via RFC 2136 on BIND9), with certbot side by side."""
