"""The one unit conversion every layer shares: guests are sized in MiB, the balloon moves bytes."""

MIB = 1 << 20  # bytes
