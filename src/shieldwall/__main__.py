from shieldwall.cli.main import run

run()
