"""The job table: enqueue in the caller's transaction, claim with leases, retry, periodic schedules."""
