"""Image classification for robots: fast enough to act on, measured on the target."""
