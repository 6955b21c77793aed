"""genauth-guard."""
