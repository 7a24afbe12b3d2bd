"""I/O-free types and rules every stage shares: the resource table, periods, units, usage rows, mappings and how
their claims are settled, the ledger's rules, report specs, charges and the outlook's models. Imports nothing else."""
