using System.Text.Json.Nodes;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Store;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Tests.EndToEnd;
using JailWorkflows.Tests.Lab;
using JailWorkflows.Tests.Support;

namespace JailWorkflows.Tests.Activities;

/// <summary>
/// A test bed for single activities on the lab: a <see cref="Consolidation"/> setting (own jails, obj, jobs, state
/// directories) plus a test-only workflows directory holding small definitions (one or a few steps), so an activity's
/// result can be checked right after it ran, before later steps change the jail root.
/// </summary>
internal sealed class ActivityBed
{
    private ActivityBed(Consolidation consolidation) => Consolidation = consolidation;

    public Consolidation Consolidation { get; }

    public Plan Plan => Consolidation.Plan;

    public string Directory => Consolidation.Directory;

    public string Database => Consolidation.Database;

    public string Workflows => Path.Combine(Directory, "workflows");

    public string JailRoot => Consolidation.JailRoot;

    /// <summary>Creates the bed; <paramref name="definitions"/> are (id, steps) with steps as (step id, activity, inputs JSON or null).</summary>
    public static ActivityBed Create(LabFixture lab, string name, string server, string jailName, string jailIp, double? buildStageSeconds, params (string Id, (string Step, string Activity, string? Inputs)[] Steps)[] definitions)
    {
        var bed = new ActivityBed(Consolidation.Create(lab, name, server, jailName, jailIp, buildStageSeconds));
        System.IO.Directory.CreateDirectory(bed.Workflows);
        foreach (var (id, steps) in definitions)
        {
            var array = new JsonArray();
            foreach (var (step, activity, inputs) in steps)
            {
                var node = new JsonObject { ["id"] = step, ["activity"] = activity, ["title"] = activity };
                if (inputs is not null)
                {
                    node["inputs"] = JsonNode.Parse(inputs);
                }

                array.Add(node);
            }

            var document = new JsonObject { ["id"] = id, ["version"] = 1, ["title"] = id, ["steps"] = array };
            File.WriteAllText(Path.Combine(bed.Workflows, id + ".json"), document.ToJsonString());
        }

        return bed;
    }

    /// <summary>Writes a variant of the plan (another jail, release…) beside the bed's and returns its path.</summary>
    public string WritePlan(string fileName, Plan plan)
    {
        var path = Path.Combine(Directory, fileName);
        File.WriteAllText(path, PlanWriter.ToYaml(plan));
        return path;
    }

    public string[] RunArgs(string definition, string? planFile = null) =>
        ["run", definition, "--plan", planFile ?? Consolidation.PlanFile, "--db", Database, "--workflows", Workflows, "--poll", "0.3"];

    public string[] ResumeArgs(string instance) => ["resume", instance, "--db", Database, "--workflows", Workflows, "--poll", "0.3"];

    public string[] ApproveArgs(string instance, string reason) => ["approve", instance, "--reason", reason, "--db", Database, "--workflows", Workflows, "--poll", "0.3"];

    public Task<IReadOnlyList<InstanceView>> InstancesAsync() => Consolidation.InstancesAsync();

    /// <summary>The newest instance of a definition, once it exists.</summary>
    public Task<InstanceView> NewestAsync(string definition) =>
        Wait.UntilAsync(async () => (await InstancesAsync()).FirstOrDefault(v => v.Definition == definition), TimeSpan.FromMinutes(1), $"an instance of {definition}");

    public async Task<InstanceView> ViewAsync(string instance) => (await InstancesAsync()).Single(v => v.Id == instance);

    public Task<IReadOnlyList<JournalEntry>> JournalAsync(string instance) => Consolidation.JournalAsync(instance);

    /// <summary>Kills a host job on the jail host through its sshd (HostJobs.KillAsync: SIGKILL to the job's process group).</summary>
    public async Task<HostJobState> KillJobAsync(string jobId)
    {
        await using var host = new SshHost(Plan.JailHost.Ssh!);
        return await new HostJobs(host, Plan.JailHost.JobsDir).KillAsync(jobId);
    }

    /// <summary>Waits until a host job whose id contains <paramref name="part"/> was started; fails early when jailwf exits.</summary>
    public Task<string> WaitForJobAsync(string instance, string part, Jailwf process, Func<Task<bool>>? andThen = null) =>
        Consolidation.WaitForJobAsync(instance, part, process, andThen);
}
