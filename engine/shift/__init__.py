"""Distribution-shift tooling: in-memory image corruptions and related shifts."""
