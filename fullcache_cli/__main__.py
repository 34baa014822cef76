from fullcache_cli.cli import main

main()
