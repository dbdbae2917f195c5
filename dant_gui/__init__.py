"""DANT Desktop: Qt views over `dant_core`."""
