"""Where a scoring run happens: one process (local), one of N jobs (partition) and their merge, or a Ray
cluster."""
