from personaforge.cli import main

main()
