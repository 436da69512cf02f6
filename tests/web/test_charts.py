"""Server-rendered charts: positive bars stand on the zero line, negative ones hang below it."""

import re

from payoutwatch.web.charts import bars


def test_negative_values_hang_below_the_zero_line() -> None:
    chart = bars([("st_1", -2.0), ("st_2", 6.0)], height=128)  # plot area 100 px, zero at 6 + 75 = 81
    rects = re.findall(r'<rect class="([^"]+)" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', chart)
    assert rects == [("bar negative", "81.0", "25.0"), ("bar", "6.0", "75.0")]
    assert 'y1="81.0"' in chart  # the zero line is drawn


def test_all_positive_bars_start_at_the_bottom() -> None:
    chart = bars([("a", 1.0), ("b", 2.0)], height=128, highlight=1)
    assert re.findall(r'class="(bar[^"]*)" x="[^"]+" y="([^"]+)"', chart) == [("bar", "56.0"), ("bar now", "6.0")]
    assert "<line" not in chart
