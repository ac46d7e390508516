"""Sans-IO flows and their two drivers."""
