"""Deployment of certificates to the servers that use them: mappings, deployments as resumable jobs, verification."""
