"""Design parts selected by name: precoders, arrays (and their registry)."""
