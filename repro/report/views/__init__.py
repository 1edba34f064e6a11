"""Report views beyond the claims, one file each."""
