using JailWorkflows.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace JailWorkflows.Cli;

/// <summary>The jailwf entry point.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>The process exit code: 0 success, 1 a workflow failed, 2 bad input, 3 a host problem, 4 an instance waits for an approval.</returns>
    public static async Task<int> Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };

        if (Console.IsOutputRedirected)
        {
            // Logs and pipes get whole lines, not lines wrapped at 80 columns.
            AnsiConsole.Profile.Width = 250;
        }

        if (Console.IsErrorRedirected)
        {
            Consoles.Error.Profile.Width = 250;
        }

        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("jailwf");
            config.Settings.StrictParsing = true;
            config.SetExceptionHandler((ex, _) => ExitCodes.Report(ex));
            config.AddCommand<DemoCommand>("demo")
                .WithDescription("Build the lab and consolidate its three legacy servers into jails, end to end.");
            config.AddBranch("lab", lab =>
            {
                lab.SetDescription("The Linux test bed of FreeBSD-like hosts (shared/LAB.md).");
                lab.AddCommand<LabUpCommand>("up").WithDescription("Create the lab (idempotent).");
                lab.AddCommand<LabDownCommand>("down").WithDescription("Remove exactly what 'lab up' made.");
                lab.AddCommand<LabStatusCommand>("status").WithDescription("Show the lab's hosts and processes.");
            });
            config.AddCommand<DiscoverCommand>("discover").WithDescription("Read a source server over SSH and write a plan for it (verify the printed host key fingerprint out of band).");
            config.AddCommand<RunCommand>("run")
                .WithDescription("Start a workflow for the servers of a plan and follow it to the end.")
                .WithExample("run", "consolidate-server", "--plan", "plan.yaml", "--server", "ServerA");
            config.AddCommand<ListCommand>("list").WithDescription("List workflow instances.");
            config.AddCommand<StatusCommand>("status").WithDescription("Show an instance's steps.");
            config.AddCommand<LogsCommand>("logs").WithDescription("Show an instance's journal.");
            config.AddCommand<ResumeCommand>("resume").WithDescription("Continue an interrupted or suspended instance and follow it to the end.");
            config.AddCommand<RetryCommand>("retry")
                .WithDescription("Run the failed step of an instance with an incident again (its attempts counted afresh) and follow it to the end.")
                .WithExample("retry", "3f2a9c1e", "--reason", "freed space under /usr/jails");
            config.AddCommand<SkipCommand>("skip")
                .WithDescription("Skip the failed step of an instance with an incident and go on with the next one (refused when a later step needs its result, unless --force).")
                .WithExample("skip", "3f2a9c1e", "--reason", "verified the services by hand");
            config.AddCommand<AbortCommand>("abort")
                .WithDescription("End an unfinished instance: its running host job is killed (its whole session, confirmed gone); the jail root is left as it is.")
                .WithExample("abort", "3f2a9c1e", "--reason", "server is decommissioned instead");
            config.AddCommand<ServeCommand>("serve")
                .WithDescription("Run the engine, the schedules and the HTTP API (http://127.0.0.1:5080, bearer token) in the foreground (logs to stdout; stops on SIGTERM); other commands go through it while it runs.");
            config.AddCommand<TokenCommand>("token").WithDescription("Print the HTTP API's bearer token (made at serve's first start).");
            config.AddBranch("schedule", schedule =>
            {
                schedule.SetDescription("Schedules (Quartz.NET cron triggers) that start workflow runs, e.g. the nightly world build.");
                schedule.AddCommand<ScheduleAddCommand>("add")
                    .WithDescription("Add a schedule: a definition, a plan and a cron expression in a time zone.")
                    .WithExample("schedule", "add", "nightly-buildworld", "--plan", "plan.yaml", "--cron", "0 0 2 * * ?", "--time-zone", "Europe/Berlin");
                schedule.AddCommand<ScheduleListCommand>("list").WithDescription("List the schedules with their next run in their time zone.");
                schedule.AddCommand<SchedulePauseCommand>("pause").WithDescription("Pause a schedule.");
                schedule.AddCommand<ScheduleResumeCommand>("resume").WithDescription("Resume a paused schedule.");
                schedule.AddCommand<ScheduleRemoveCommand>("remove").WithDescription("Remove a schedule (instances it started are not touched).");
            });
            config.AddCommand<ApproveCommand>("approve")
                .WithDescription("Approve what an instance waits for (files of its /etc that need a person) and follow it to the end.")
                .WithExample("approve", "3f2a9c1e", "--reason", "checked master.passwd and group");
        });

        return await app.RunAsync(args, cancellation.Token).ConfigureAwait(false);
    }
}
