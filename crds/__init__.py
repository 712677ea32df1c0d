"""The CRD manifests, importable as package data of the installed operator."""
