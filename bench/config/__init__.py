"""The configuration: typed schema, validated builds, run and sweep folder names."""
