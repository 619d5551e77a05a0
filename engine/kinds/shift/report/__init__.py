"""The shift kind's report section: findings, tables, charts and words (built by ``section.shift_section``)."""
