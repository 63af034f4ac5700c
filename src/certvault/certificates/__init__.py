"""The certificate inventory: import, versions, search, export, discovery."""
