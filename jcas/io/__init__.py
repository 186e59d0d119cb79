"""Result files: NetCDF reading and writing, metadata, provenance, atomic writes."""
