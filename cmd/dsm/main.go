package main

import (
	"fmt"
	"os"

	"github.com/dsm-dev/dsm/internal/version"
)

func main() {
	// --version is checked here, before run, so that it stays one line to
	// carry over when the command line moves to another parser.
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version.Get().Line("dsm"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
