package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/faasmon/faasmon/internal/dev/localstack"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "faasmon-stack:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: faasmon-stack up|down|status|deploy -f stack.yml|provider")
	os.Exit(2)
}

func run(ctx context.Context, cmd string, args []string) error {
	dirs, err := localstack.NewDirs(localstack.StateDirFromEnv())
	if err != nil {
		return err
	}
	if cmd == "provider" {
		logger := log.New(os.Stderr, "provider: ", log.LstdFlags|log.Lmicroseconds)
		p, err := localstack.NewProvider(dirs, logger)
		if err != nil {
			return err
		}
		logger.Printf("listening on %s, state %s", localstack.ProviderAddr, dirs.State)
		p.Serve(ctx)
		logger.Printf("stopped")
		return nil
	}
	wd, _ := os.Getwd()
	repo, err := localstack.RepoRoot(wd)
	if err != nil {
		return err
	}
	st, err := localstack.NewStack(dirs.State, repo)
	if err != nil {
		return err
	}
	st.Out = os.Stdout
	switch cmd {
	case "up":
		t0 := time.Now()
		if err := st.Up(ctx); err != nil {
			return err
		}
		fmt.Printf("stack up in %s: gateway %s, provider %s\n", time.Since(t0).Round(time.Millisecond), localstack.GatewayURL, localstack.ProviderURL)
		return nil
	case "down":
		return st.Down(context.WithoutCancel(ctx))
	case "status":
		ok := true
		for _, c := range st.Status(ctx) {
			state := "stopped"
			switch {
			case c.Healthy:
				state = "healthy"
			case c.Running:
				state = fmt.Sprintf("unhealthy: %v", c.Err)
			}
			ok = ok && c.Healthy
			fmt.Printf("%-22s pid %-7d %s\n", c.Name, c.PID, state)
		}
		if !ok {
			return fmt.Errorf("stack not healthy")
		}
		return nil
	case "deploy":
		fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
		file := fs.String("f", "stack.yml", "stack file")
		filter := fs.String("filter", "", "deploy only functions matching this glob")
		secrets := fs.String("secrets-dir", "", "directory of files named after secrets to create when missing")
		env := envFlag{}
		fs.Var(env, "env", "KEY=VALUE environment override for every function deployed (repeatable)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		names, err := localstack.DeployStack(ctx, localstack.DeployOptions{
			StackFile: *file, Filter: *filter, Repo: repo, Dirs: dirs, SecretsDir: *secrets, Log: os.Stdout, Env: env,
		})
		if err != nil {
			return err
		}
		fmt.Printf("deployed %d functions: %v\n", len(names), names)
		return nil
	default:
		usage()
	}
	return nil
}

// envFlag collects -env KEY=VALUE flags.
type envFlag map[string]string

func (e envFlag) String() string { return fmt.Sprint(map[string]string(e)) }

func (e envFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	e[k] = val
	return nil
}
