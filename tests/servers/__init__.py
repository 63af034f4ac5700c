"""Real servers (and faithful fakes of hosted APIs) started on loopback by test fixtures."""
