"""Alert rules: pure functions from figures to findings; ``engine`` turns findings into alerts."""
