"""Demo datasets the project generates or reads from installed packages (no download)."""
