"""The fine-tuning kind's report section: findings, tables and chart references, and `juxta results`."""
