"""A merge study's report section: findings in words (``findings``), tables and chart references
(``tables``), assembled by ``section``."""
