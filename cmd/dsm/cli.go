package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `dsm is the command-line client of dsm.

With no command, dsm starts an interactive prompt that accepts the seed's
R (read value), W (write value) and Q (quit), and every command below by name.
Other commands are sent to the daemon as they are (ping, dbsize, ...).

Flags may come before or after the command; after a "--" everything is the
command's. The single-dash spellings (-addr, -password, -file, -timeout, ...)
work as well as the double-dash ones.

With several addresses (--addr a:1,b:2,c:3, the nodes of one cluster) dsm
uses the first node that answers, moves to another when that one fails, and
shows the node in use in its prompt and status.

Environment:
  DSM_ADDR       daemon address (or addresses), when --addr is not given
  DSM_PASSWORD   password, when --password is not given

Exit codes:
  0  success
  1  usage or other error
  2  no such variable
  3  refused (authentication, access rules, limits)
  4  unreachable (no daemon at the address, no leader in the cluster, or
     the file cannot be opened)`

// newRoot builds the command tree. Every command's exit code goes to code:
// cobra only knows failure or success, and dsm documents four failures.
func newRoot(cfg *config, stdin io.Reader, stdout, stderr io.Writer, code *int) *cobra.Command {
	ctx := context.Background()
	root := &cobra.Command{
		Use:           "dsm [flags] [COMMAND ARGS...]",
		Short:         "the command-line client of dsm",
		Long:          rootLong,
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return cfg.resolve(cmd.Flags())
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				*code = runPrompt(ctx, cfg, stdin, stdout, stderr)
			} else {
				*code = runOneShot(ctx, cfg, args, stdout, stderr)
			}
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	addFlags(root.PersistentFlags(), cfg)
	for _, c := range commands {
		root.AddCommand(subcommand(c.name, c.args, c.help))
	}
	for _, c := range append(sessionCommands[:2], fileCommands...) {
		name, args, _ := strings.Cut(c[0], " ")
		root.AddCommand(subcommand(name, args, c[1]))
	}
	for _, sub := range root.Commands() {
		sub.RunE = func(_ *cobra.Command, args []string) error {
			*code = runOneShot(ctx, cfg, append([]string{sub.Name()}, args...), stdout, stderr)
			return nil
		}
	}
	root.AddCommand(clusterCommand(ctx, cfg, stdout, stderr, code))
	return root
}

// subcommand describes one of dsm's commands to cobra, for help and
// completion; normalizeArgs gives it its arguments after a "--", so that
// its own options (lock -read, watch -n) and negative numbers (add x -5)
// reach dsm's parsers as they are.
func subcommand(name, args, help string) *cobra.Command {
	return &cobra.Command{
		Use:   strings.TrimSpace(name + " " + args),
		Short: help,
		Args:  cobra.ArbitraryArgs,
	}
}

// addFlags declares the flags, storing them in cfg.
func addFlags(fs *pflag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.addr, "addr", client.DefaultAddr, "daemon address `HOST:PORT`, or several nodes of one cluster separated by commas ($DSM_ADDR when not given)")
	fs.IntVarP(&cfg.port, "port", "p", 0, "daemon `PORT`, on the host (or hosts) of --addr (as redis-cli -p)")
	fs.StringVar(&cfg.password, "password", "", "daemon password `P` ($DSM_PASSWORD when not given)")
	fs.StringVar(&cfg.file, "file", "", "work on the memory file at `PATH` directly, without the daemon")
	fs.StringVarP(&cfg.output, "output", "o", "text", "output `FORMAT`: text, or json (one object per line)")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "time limit of each command")
	fs.DurationVar(&cfg.reconnect, "reconnect", 30*time.Second, "at the prompt, how long to keep trying to reconnect to a lost daemon")
	fs.BoolVar(&cfg.tls, "tls", false, "connect with TLS")
	fs.StringVar(&cfg.cacert, "cacert", "", "with --tls, trust the CA certificates in `FILE` (PEM)")
}

// resolve completes cfg once the flags are parsed: the environment fills
// what the flags left out (read here, not as defaults, so that help never
// prints the password), -p replaces the port, and -o is checked.
func (cfg *config) resolve(fs *pflag.FlagSet) error {
	if !fs.Changed("addr") {
		if a := os.Getenv("DSM_ADDR"); a != "" {
			cfg.addr = a
		}
	}
	if cfg.password == "" {
		cfg.password = os.Getenv("DSM_PASSWORD")
	}
	if fs.Changed("port") {
		if cfg.port <= 0 || cfg.port > 65535 {
			return fmt.Errorf("-p %d: not a port", cfg.port)
		}
		cfg.addr = withPort(cfg.addr, cfg.port)
	}
	f, err := parseFormat(cfg.output)
	cfg.format = f
	return err
}

// withPort gives every address that addr lists the port.
func withPort(addr string, port int) string {
	addrs := client.SplitAddrs(addr)
	for i, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return strings.Join(addrs, ",")
}

// globalFlags are the flags normalizeArgs knows, by name without dashes,
// true for those that take a value. -addr, -password and the others were
// single-dash long flags (Go's flag package) before dsm moved to cobra,
// and scripts spell them so; pflag would read "-addr" as the shorthands
// -a -d -d -r, so normalizeArgs rewrites them with two dashes.
var globalFlags = map[string]bool{
	"addr": true, "password": true, "file": true, "output": true, "o": true,
	"port": true, "p": true, "timeout": true, "reconnect": true, "cacert": true,
	"tls": false, "help": false, "h": false,
}

// normalizeArgs rewrites a command line into the form cobra parses the way
// dsm means it: the command, the known flags (two dashes for long names),
// then "--" and the command's arguments. Moving the flags lets
// them come after the command (dsm get x -addr h:1); the "--" hands the
// arguments to dsm's own parsers untouched, so "add x -5" is not the
// shorthand flags -5, and lock and watch keep their options. Flags after a
// "--" stay where they are. help, completion and cobra's hidden completion
// requests are cobra's own and keep their arguments.
func normalizeArgs(args []string, root *cobra.Command) []string {
	if len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd) {
		return args
	}
	flags, rest := []string{}, []string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, hasValue := flagName(a)
		takesValue, known := globalFlags[name]
		if !known {
			rest = append(rest, a)
			continue
		}
		if len(name) > 1 {
			a = "--" + strings.TrimLeft(a, "-")
		}
		flags = append(flags, a)
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
		return append(flags, rest...)
	}
	cmd, cmdArgs := rest[0], rest[1:]
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	if cmd == "help" || cmd == "completion" {
		return append(append([]string{cmd}, flags...), cmdArgs...)
	}
	// The command comes first: cobra finds it by skipping flags, and
	// before it runs it cannot tell -h (help, a flag without a value) from
	// a flag whose value follows.
	if sub, _, err := root.Find([]string{cmd}); err == nil && sub != root {
		path := []string{cmd}
		// A command with subcommands (cluster status) takes its
		// subcommand before the "--" too, for cobra to find.
		if len(cmdArgs) > 0 && sub.HasSubCommands() {
			if s, _, err := sub.Find(cmdArgs[:1]); err == nil && s != sub {
				path, cmdArgs = append(path, cmdArgs[0]), cmdArgs[1:]
			}
		}
		return append(append(append(path, flags...), "--"), cmdArgs...)
	}
	// Not a command of dsm: the daemon's, passed through by the root.
	return append(append(flags, "--", cmd), cmdArgs...)
}

// flagName returns the name of the flag a spells (without dashes and
// value) and whether a carries its value after "=". It returns "" for
// what is not a flag.
func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false
	}
	name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name, hasValue
}
