"""What changes in the data: corruptions, resampling shifts, table and text perturbations, shared by
every study kind (a shift study evaluates under them; a fine-tuning study measures out-of-distribution
accuracy with them). ``catalog`` names them without torch; ``apply`` applies one to a dataset."""
