"""Inventory: YAML files of devices, validated into frozen per-device records."""
