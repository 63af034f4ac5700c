"""Whole-process timings of the command line (start-up, listing, one ACME certificate), certbot side by side."""
