"""I/O-free domain types: periods, units, usage rows, mappings, report specs and charges."""
