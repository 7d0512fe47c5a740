// Command netspace runs the netspace stack and its tools.
//
//	netspace demo [flags]    a small dataspace demo: actors, a demand matcher, a trace
//
// A bad flag or argument is a one-line error on stderr and exit status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: netspace <command> [flags]

commands:
  demo     run a small dataspace demo (actors, a demand matcher, a trace)
  help     show this help

Run 'netspace <command> -h' for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q (try 'netspace help')", args[0])}
	}
	return exitStatus(err, stderr)
}

// usageError marks errors in flags or arguments (exit status 2).
type usageError struct{ error }

func exitStatus(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "netspace: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "netspace: %v\n", err)
		return 1
	}
}

// parseFlags parses args with fs, turning every problem into a one-line
// usageError; -h prints the flags to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "usage: netspace %s [flags]\n", fs.Name())
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), strings.Join(fs.Args(), " "))}
	}
	return nil
}
