using System.Collections.Frozen;

namespace JailWorkflows.Engine.Activities;

/// <summary>How an activity recovers when it runs again after a crash or a failure (DESIGN.md D4).</summary>
public enum RecoveryPolicy
{
    /// <summary>Idempotent: running it again is harmless and converges on the same result.</summary>
    Rerun,

    /// <summary>Looks at the target first (completion marker, restoresymtable, world stamp, jls) and continues from there.</summary>
    ProbeFirst,

    /// <summary>Needs a person's decision (an incident or an approval).</summary>
    AskOperator,
}

/// <summary>One activity (step type) of the catalog.</summary>
/// <param name="Name">The name used in workflow definitions, e.g. <c>TransferPartitions</c>.</param>
/// <param name="BodyType">The WorkflowCore step body type.</param>
/// <param name="Description">What it does, for people.</param>
/// <param name="Recovery">How it recovers.</param>
/// <param name="InputSchema">JSON Schema (2020-12) of its <c>inputs</c> object in a definition.</param>
public sealed record ActivityDescriptor(string Name, Type BodyType, string Description, RecoveryPolicy Recovery, string InputSchema)
{
    /// <summary>The retry policy when the definition's step sets none (<see cref="RetryPolicy.Default"/> unless said otherwise).</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>What the activity leaves that later steps may need (e.g. <c>jail-tree</c>, <c>world</c>); empty for nothing.</summary>
    public IReadOnlyList<string> Produces { get; init; } = [];

    /// <summary>What the activity needs from earlier steps (see <see cref="Produces"/>): <c>jailwf skip</c> refuses to skip a step whose result a later step needs.</summary>
    public IReadOnlyList<string> Needs { get; init; } = [];

    /// <summary>Checks of the inputs beyond their JSON schema (e.g. that a time zone exists), run when a definition is loaded:
    /// each returned text is one problem; null for none.</summary>
    public Func<System.Text.Json.Nodes.JsonObject, IEnumerable<string>>? CheckInputs { get; init; }
}

/// <summary>The activities a workflow definition can use.</summary>
public static class ActivityCatalog
{
    /// <summary>The result of a transfer: the source's tree in the jail root.</summary>
    public const string JailTree = "jail-tree";

    /// <summary>The result of BuildWorld: a finished world in the obj directory.</summary>
    public const string World = "world";

    /// <summary>The result of InstallWorld: the new world in the jail root.</summary>
    public const string InstalledWorld = "installed-world";

    /// <summary>The result of StartJail: the jail runs.</summary>
    public const string RunningJail = "running-jail";

    private const string NoInputs = """{ "type": "object", "additionalProperties": false, "properties": {} }""";

    /// <summary>Every activity, by name (ordinal).</summary>
    public static FrozenDictionary<string, ActivityDescriptor> All { get; } = new ActivityDescriptor[]
    {
        new(
            "Preflight",
            typeof(Preflight),
            "Checks, changing nothing, that the consolidation can succeed, and reports every failing check at once in one incident: the source is reachable from the jail host with the transfer's ssh command line and pinned key; free space under the jails directory (df -k) covers the partitions' used size (df -k on the source) plus a margin; the jail root is absent, empty or owned by this instance; the jail IP is configured nowhere on the jail host (ifconfig -a) and held by no running jail (jls); the src tree is present; kern.securelevel <= 0; the world is not newer than the running kernel (uname -r). When every check passed it marks the jail root as owned by this instance (<stateDir>/jails/<name>/owner).",
            RecoveryPolicy.Rerun,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "spaceMarginPercent": { "type": "integer", "minimum": 0, "maximum": 1000, "default": 10, "description": "Percent added to the partitions' used size when checking free space under the jails directory." },
                "allowNewerWorld": { "type": "boolean", "default": false, "description": "Accept a src tree whose release is newer than the jail host's running kernel." }
              }
            }
            """),
        new(
            "TransferPartitions",
            typeof(TransferPartitions),
            "Transfers every partition of the source server into the jail root: a host job on the jail host runs ssh root@source \"dump -0ua -f - <partition>\" | restore -rf - inside <jail root>/<partition> (dump(8), restore(8)). A partition counts as done only when both sides exited 0; an interrupted one is wiped and restored again; finished ones are never redone.",
            RecoveryPolicy.ProbeFirst,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "dumpLevel": { "type": "integer", "minimum": 0, "maximum": 0, "default": 0, "description": "dump(8) level; only 0 (a full dump into an empty jail root) until incremental passes (restore -r with restoresymtable kept) exist." },
                "snapshot": { "type": "boolean", "default": true, "description": "Ask for dump -L (snapshot) where the source supports it (5.0 and later)." },
                "allowInconsistentDump": { "type": "boolean", "default": false, "description": "Accept a partition whose dump printed 'dump downgraded, -L ignored' (a copy of the live file system, not snapshot-consistent) instead of stopping with an incident." }
              }
            }
            """) { Produces = [JailTree] },
        new(
            "RequestApproval",
            typeof(RequestApproval),
            "Waits for a person's go-ahead (jailwf approve): journals what is to be approved and shows it in jailwf status. With the input cutover it asks for the cutover's downtime (stop <services> on <server> and apply the level-1 delta of <partitions>) and is a journaled no-op when the server's plan asks for no cutover.",
            RecoveryPolicy.AskOperator,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "subject": { "type": "string", "maxLength": 500, "description": "What is approved, for people (with cutover: added to the computed text)." },
                "cutover": { "type": "boolean", "default": false, "description": "Ask for the cutover's downtime; a no-op when the plan's server has cutover: false." }
              }
            }
            """) { Retry = RetryPolicy.Never },
        new(
            "Cutover",
            typeof(Cutover),
            "Cutover with little downtime (plan: cutover: true; a journaled no-op otherwise): stops the source's services (those its rc.conf enables that have an rc script) over ssh from the jail host with sh <script> stop, journaling each (they stay stopped; the jail takes over), then per partition a host job ssh root@source \"dump -1ua[L] -f - <partition>\" | restore -rf - inside <jail root>/<partition> (dump(8) -u dumpdates of the level-0 run, restore(8) -r with the kept restoresymtable), and removes restoresymtable. A partition whose level-1 restore was interrupted is transferred in full (level 0) while the services stay stopped.",
            RecoveryPolicy.ProbeFirst,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "snapshot": { "type": "boolean", "default": true, "description": "Ask for dump -L (snapshot) where the source supports it (5.0 and later); with the services stopped a copy without one is consistent too." }
              }
            }
            """) { Needs = [JailTree] },
        new(
            "Strip",
            typeof(Strip),
            "Removes what a jail must not carry (usr/src, usr/ports, usr/obj, boot, kernel*, the contents of dev), backs up etc first, reduces rc.conf to the service lines and empties fstab.",
            RecoveryPolicy.Rerun,
            NoInputs) { Needs = [JailTree] },
        new(
            "BuildWorld",
            typeof(BuildWorld),
            "Builds the world once on the jail host (make -j<N> buildworld in the src directory, build(7)); a finished world (stamp) is reused, an unfinished one is resumed with NO_CLEAN.",
            RecoveryPolicy.ProbeFirst,
            NoInputs) { Produces = [World], Retry = RetryPolicy.Never },
        new(
            "InstallWorld",
            typeof(InstallWorld),
            "Installs the built world into the jail root (make installworld DESTDIR=<jail root>); refused while the jail runs.",
            RecoveryPolicy.Rerun,
            NoInputs) { Needs = [JailTree, World], Produces = [InstalledWorld] },
        new(
            "MergeEtc",
            typeof(MergeEtc),
            "Merges /etc unattended (mergemaster -i -D <jail root> with every prompt answered by its default, mergemaster(8)): files the jail lacks are installed, etc/rc.d is replaced wholesale, boot is dropped from the temproot, files that differ stay for consideration and are listed in the journal; a no-output watchdog kills a run that waits on a prompt; etcupdate extract leaves a baseline for later upgrades; master.passwd, group, motd, mail/* and files with conflict markers wait for an approval (jailwf approve).",
            RecoveryPolicy.AskOperator,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "watchdogSeconds": { "type": "integer", "minimum": 1, "maximum": 86400, "default": 600, "description": "Seconds mergemaster may print nothing before the watchdog kills it (it waits on a prompt) and the step becomes an incident." }
              }
            }
            """) { Needs = [InstalledWorld] },
        new(
            "StartJail",
            typeof(StartJail),
            "Writes the jail's jail.conf(5) file (<jailConfDir>/<name>.conf) and starts it with service jail start <name> (rc.d/jail; jail -f <conf> -c <name> when rc.d/jail does not read that file); succeeds only when jls -j <name> lists it; a running jail is left alone.",
            RecoveryPolicy.ProbeFirst,
            NoInputs) { Needs = [JailTree], Produces = [RunningJail] },
        new(
            "StopJail",
            typeof(StopJail),
            "Stops the jail with service jail stop <name> (rc.d/jail: exec.stop, then jail -r; jail -f <conf> -r <name> when rc.d/jail does not read the jail's file); succeeds when jls no longer lists it; a stopped jail is left alone.",
            RecoveryPolicy.ProbeFirst,
            NoInputs),
        new(
            "VerifyJail",
            typeof(VerifyJail),
            "Verifies the jail: jls lists it, jexec runs a command inside, and every service its rc.conf enables is up (a process inside the jail, a port listening on the jail's IP, HTTP answering for web servers), each reported in the journal; services still down after the timeout become an incident naming them. Services without an rc.d script in the jail are reported as not checked (or down with missingScriptIsDown).",
            RecoveryPolicy.Rerun,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "httpPath": { "type": "string", "pattern": "^/[A-Za-z0-9._/~-]*$", "default": "/", "description": "Path fetched from http://<jail ip> for web servers." },
                "timeoutSeconds": { "type": "integer", "minimum": 1, "maximum": 3600, "default": 60, "description": "How long the services may take to come up." },
                "skipServices": { "type": "array", "items": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }, "default": [], "description": "rc.conf service names not checked (reported as skipped)." },
                "missingScriptIsDown": { "type": "boolean", "default": false, "description": "Count an enabled service without an rc.d script in the jail as down instead of not checked." }
              }
            }
            """) { Needs = [RunningJail], Retry = RetryPolicy.Never },
        new(
            "WaitForWindow",
            typeof(WaitForWindow),
            "Waits until a daily maintenance window is open (start to end on the wall clock of a time zone, e.g. 22:00 to 06:00 Europe/Berlin; a window whose end is not after its start runs over midnight; daylight saving time honoured), then continues; journals when the window opens. The wait survives restarts: the step computes the opening again and sleeps on.",
            RecoveryPolicy.Rerun,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "required": ["start", "end"],
              "properties": {
                "start": { "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", "description": "When the window opens, local time HH:mm (24 h)." },
                "end": { "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", "description": "When it closes, local time HH:mm; before start for a window over midnight." },
                "timeZone": { "type": "string", "default": "UTC", "description": "IANA time zone of start and end, e.g. Europe/Berlin." }
              }
            }
            """)
        {
            Retry = RetryPolicy.Never,
            CheckInputs = inputs =>
            {
                try
                {
                    _ = WaitForWindow.WindowOf(inputs);
                    return [];
                }
                catch (ArgumentException ex)
                {
                    return [ex.Message.Split(" (Parameter", 2)[0]];
                }
            },
        },
        new(
            "UpgradeJails",
            typeof(UpgradeJails),
            "Brings the plan's jails to the world the jail host built, one jail at a time, each by an instance of a server definition (input definition, default upgrade-jail: stop, installworld, merge /etc, start, verify) that it starts and waits for; a jail without a jail root on the host, with this world installed already (InstallWorld's marker), or with another unfinished instance is left alone (journaled).",
            RecoveryPolicy.ProbeFirst,
            """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "definition": { "type": "string", "pattern": "^[a-z][a-z0-9-]{0,63}$", "default": "upgrade-jail", "description": "The server definition each jail's upgrade runs as." }
              }
            }
            """) { Needs = [World], Retry = RetryPolicy.Never },
    }.ToFrozenDictionary(d => d.Name, StringComparer.Ordinal);
}
