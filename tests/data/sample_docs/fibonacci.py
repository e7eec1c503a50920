"""Fibonacci numbers, computed with memoization so each value is worked out only once."""

from functools import cache


@cache
def fibonacci(n: int) -> int:
    """The n-th Fibonacci number: fibonacci(0) == 0, fibonacci(1) == 1."""
    if n < 0:
        raise ValueError("n must not be negative")
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def golden_ratio_estimate(n: int) -> float:
    """Consecutive Fibonacci numbers approach the golden ratio, about 1.618."""
    return fibonacci(n + 1) / fibonacci(n)


if __name__ == "__main__":
    print([fibonacci(i) for i in range(15)])
    print(golden_ratio_estimate(30))
