"""What this machine's CPU is and which of its instructions run int8, from /proc/cpuinfo."""

# CPU features that decide how fast (and, on x86 without VNNI, how exactly) int8 runs.
INT8_FEATURES = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'asimddp', 'i8mm')
# x86 instructions that add uint8 x int8 products in 32 bits: exact, and fast.
VNNI = ('avx512_vnni', 'avx_vnni')


def cpuinfo(*keys):
    """Return the first value of one of `keys` in Linux's /proc/cpuinfo; '' elsewhere."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in keys and value.strip():
                    return value.strip()
    except OSError:
        pass
    return ''


def int8_instructions():
    """Return which of INT8_FEATURES the CPU's flags name."""
    flags = set(cpuinfo('flags', 'Features').split())
    return [feature for feature in INT8_FEATURES if feature in flags]


def has_vnni():
    """Return whether the CPU has an x86 VNNI instruction set (AVX-512 VNNI or AVX-VNNI)."""
    return any(feature in VNNI for feature in int8_instructions())
