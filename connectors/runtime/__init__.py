"""The connector runtime: task loops, offsets, dead letters, metrics, REST."""
