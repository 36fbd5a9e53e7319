using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Definitions;

namespace JailWorkflows.Server.Api;

/// <summary>Where a designer node sits on its canvas (accepted, not stored).</summary>
/// <param name="X">Horizontal position.</param>
/// <param name="Y">Vertical position.</param>
public sealed record GraphPosition(double X, double Y);

/// <summary>A node of a definition graph: one step.</summary>
/// <param name="Id">Step id (unique; <c>^[a-z][a-z0-9-]{0,63}$</c>).</param>
/// <param name="Activity">Activity name from the catalog.</param>
/// <param name="Title">Title for people; null for the id.</param>
/// <param name="Inputs">The activity's inputs (its input schema); null for none.</param>
/// <param name="Retry">The step's retry fields (<c>maxAttempts</c>, <c>backoffSeconds</c>, <c>maxBackoffSeconds</c>); null for the activity's default.</param>
/// <param name="Position">Canvas position; accepted and not stored.</param>
public sealed record GraphStep(string? Id, string? Activity, string? Title = null, JsonObject? Inputs = null, JsonObject? Retry = null, GraphPosition? Position = null);

/// <summary>An edge of a definition graph: <paramref name="To"/> runs after <paramref name="From"/> (a step with several
/// outgoing edges forks into parallel branches; one with several incoming edges joins them: it runs after all of them).</summary>
/// <param name="From">The earlier step's id.</param>
/// <param name="To">The later step's id.</param>
public sealed record GraphEdge(string? From, string? To);

/// <summary>A workflow definition as the designer edits it: nodes are steps, edges their order and branches (docs/api.md).</summary>
/// <param name="Id">Definition id.</param>
/// <param name="Version">The version (answers); ignored by validate and save.</param>
/// <param name="Title">Title.</param>
/// <param name="Description">Description.</param>
/// <param name="Scope"><c>server</c> (default) or <c>jailHost</c>.</param>
/// <param name="Steps">The nodes.</param>
/// <param name="Edges">The edges; null: the order of <paramref name="Steps"/>.</param>
public sealed record DefinitionGraph(string? Id, int? Version, string? Title, string? Description, string? Scope, IReadOnlyList<GraphStep>? Steps, IReadOnlyList<GraphEdge>? Edges)
{
    /// <summary>save only: refuse (409) unless the newest stored version is this one; null: no check.</summary>
    public int? BaseVersion { get; init; }

    /// <summary>answers only: when the version was stored (UTC).</summary>
    public DateTime? RegisteredAt { get; init; }

    /// <summary>answers only: how many instances are pinned to the version.</summary>
    public int? Instances { get; init; }
}

/// <summary>One problem of a definition graph.</summary>
/// <param name="Code">What kind (docs/api.md: <c>unknown-activity</c>, <c>missing-input</c>, <c>cycle</c>, <c>dangling-edge</c>, <c>join</c>…).</param>
/// <param name="Field">Where, e.g. <c>steps[2].inputs.start</c> or <c>edges[1].to</c> (indexes of the request's arrays).</param>
/// <param name="Node">The step id concerned, if any.</param>
/// <param name="Edge">The index of the edge concerned, if any.</param>
/// <param name="Message">What is wrong.</param>
public sealed record DefinitionProblem(string Code, string Field, string? Node, int? Edge, string Message);

/// <summary>Answer of a definition validation that found no problem.</summary>
/// <param name="Valid">Always true.</param>
/// <param name="Steps">The step ids in an order they can run in (each after the steps it runs after; the stored definition's order).</param>
public sealed record ValidationResponse(bool Valid, IReadOnlyList<string> Steps);

/// <summary>A definition graph has problems; nothing was stored.</summary>
public sealed class DefinitionGraphException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="problems">Every problem found (at least one).</param>
    public DefinitionGraphException(IReadOnlyList<DefinitionProblem> problems)
        : base($"The workflow definition has {problems.Count} problem{(problems.Count == 1 ? string.Empty : "s")}: " + string.Join("; ", problems.Select(p => $"{p.Field}: {p.Message}")))
        => Problems = problems;

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<DefinitionProblem> Problems { get; }
}

/// <summary>Turns definition graphs into stored definitions and back, and finds every problem of a graph.</summary>
public static partial class DefinitionGraphs
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The graph of a stored definition: its steps as nodes (inputs and retry as written), an edge from each step
    /// named in a step's <see cref="StepDocument.After"/> to that step (for a linear definition: one after the other).</summary>
    /// <param name="document">The definition.</param>
    /// <returns>The graph (without <see cref="DefinitionGraph.RegisteredAt"/> and <see cref="DefinitionGraph.Instances"/>).</returns>
    public static DefinitionGraph FromDocument(WorkflowDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var raw = (JsonArray)JsonNode.Parse(document.Json)!["steps"]!;
        var steps = document.Steps.Select((s, i) => new GraphStep(
            s.Id,
            s.Activity,
            (string?)raw[i]!["title"],
            raw[i]!["inputs"]?.DeepClone().AsObject(),
            raw[i]!["retry"]?.DeepClone().AsObject())).ToList();
        var edges = document.Steps.SelectMany(s => s.After.Select(a => new GraphEdge(a, s.Id))).ToList();
        return new DefinitionGraph(document.Id, document.Version, document.Title, document.Description, document.Scope == DefinitionScope.JailHost ? "jailHost" : "server", steps, edges);
    }

    /// <summary>
    /// Finds every problem of a graph and, when there is none, the stored definition's JSON text (version 1): its steps in an
    /// order they can run in (the request's order where the edges allow), each with an <c>after</c> list of the steps its
    /// incoming edges come from, left out where that is the step before it (so a chain is stored as before, without any).
    /// The fork/join shape is checked by the definition loader; its problems are named at their node.
    /// </summary>
    /// <param name="graph">The graph.</param>
    /// <returns>The step ids in the stored order and the definition's JSON.</returns>
    /// <exception cref="DefinitionGraphException">The graph has problems; every one is listed.</exception>
    public static (IReadOnlyList<string> Order, string Json) ToDefinition(DefinitionGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var steps = graph.Steps ?? [];
        var problems = new List<DefinitionProblem>();
        problems.AddRange(StepProblems(steps));
        var before = graph.Edges is null ? null : new List<int>[steps.Count];
        var order = graph.Edges is null ? Enumerable.Range(0, steps.Count).ToList() : Order(steps, graph.Edges, before!, problems);

        // Steps without an id or with a duplicate one are no nodes: the loader reports them in the request's order.
        var ordered = order is not null && order.Count == steps.Count ? order : Enumerable.Range(0, steps.Count).ToList();
        var after = order is not null && order.Count == steps.Count ? before : null;
        problems.AddRange(LoaderProblems(graph, steps, ordered, after, problems));
        if (problems.Count > 0)
        {
            throw new DefinitionGraphException(problems);
        }

        return (ordered.Select(i => steps[i].Id!).ToList(), Json(graph, steps, ordered, after));
    }

    /// <summary>The definition's JSON: the steps in <paramref name="order"/> (request indexes), each with its <c>after</c> from
    /// <paramref name="after"/> (request indexes of its predecessors; null: no <c>after</c> at all) unless that is the previous step.</summary>
    private static string Json(DefinitionGraph graph, IReadOnlyList<GraphStep> all, IReadOnlyList<int> order, IReadOnlyList<List<int>>? after)
    {
        var steps = order.Select(i => all[i]);
        var root = new JsonObject { ["id"] = graph.Id, ["version"] = 1 };
        Add(root, "title", graph.Title);
        Add(root, "description", graph.Description);
        Add(root, "scope", graph.Scope);
        var array = new JsonArray();
        var position = 0;
        foreach (var step in steps)
        {
            var node = new JsonObject { ["id"] = step.Id, ["activity"] = step.Activity };
            Add(node, "title", step.Title);
            if (after is not null)
            {
                // Predecessors in stored order; left out when it is exactly the step before (the default).
                var names = after[order[position]].OrderBy(p => IndexIn(order, p)).Select(p => all[p].Id!).ToList();
                var previous = position == 0 ? null : all[order[position - 1]].Id;
                if (!(position == 0 ? names.Count == 0 : names.Count == 1 && names[0] == previous))
                {
                    node["after"] = new JsonArray(names.Select(n => (JsonNode?)JsonValue.Create(n)).ToArray());
                }
            }

            position++;
            if (step.Inputs is { Count: > 0 })
            {
                node["inputs"] = step.Inputs.DeepClone();
            }

            if (step.Retry is not null)
            {
                node["retry"] = step.Retry.DeepClone();
            }

            array.Add(node);
        }

        root["steps"] = array;
        return root.ToJsonString(Indented);

        static int IndexIn(IReadOnlyList<int> order, int step)
        {
            for (var i = 0; i < order.Count; i++)
            {
                if (order[i] == step)
                {
                    return i;
                }
            }

            return -1;
        }

        static void Add(JsonObject o, string name, string? value)
        {
            if (value is not null)
            {
                o[name] = value;
            }
        }
    }

    /// <summary>Unknown activities and missing required inputs, named by node (the loader reports them too, less precisely).</summary>
    private static IEnumerable<DefinitionProblem> StepProblems(IReadOnlyList<GraphStep> steps)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (step.Activity is null)
            {
                continue;
            }

            if (!ActivityCatalog.All.TryGetValue(step.Activity, out var activity))
            {
                yield return new DefinitionProblem("unknown-activity", $"steps[{i}].activity", step.Id, null, $"unknown activity '{step.Activity}' (known: {string.Join(", ", ActivityCatalog.All.Keys.Order(StringComparer.Ordinal))})");
                continue;
            }

            if (JsonNode.Parse(activity.InputSchema)!["required"] is JsonArray required)
            {
                foreach (var name in required.Select(r => (string)r!))
                {
                    if (step.Inputs?.ContainsKey(name) != true)
                    {
                        yield return new DefinitionProblem("missing-input", $"steps[{i}].inputs.{name}", step.Id, null, $"{step.Activity} needs the input '{name}'");
                    }
                }
            }
        }
    }

    /// <summary>
    /// An order of the steps along the edges (each step after its predecessors, otherwise the request's order) and each step's
    /// predecessors (in <paramref name="before"/>), or null when the edges have problems (added): a dangling or duplicate edge,
    /// a cycle, no or several first steps, a step not reached from the first. Forks and joins are allowed here; whether they
    /// are structured is the definition loader's check.
    /// </summary>
    private static List<int>? Order(IReadOnlyList<GraphStep> steps, IReadOnlyList<GraphEdge> edges, List<int>[] before, List<DefinitionProblem> problems)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i].Id is { } id)
            {
                index.TryAdd(id, i);
            }
        }

        var next = new List<(int Edge, int To)>[steps.Count];
        var previous = new List<int>[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            next[i] = [];
            previous[i] = [];
        }

        var seen = new HashSet<(int, int)>();
        var known = problems.Count;
        for (var j = 0; j < edges.Count; j++)
        {
            var edge = edges[j];
            var from = Endpoint(edge.From, "from");
            var to = Endpoint(edge.To, "to");
            if (from < 0 || to < 0)
            {
                continue;
            }

            if (from == to)
            {
                problems.Add(new DefinitionProblem("cycle", $"edges[{j}]", edge.From, j, $"edge {edge.From} -> {edge.To} makes a cycle (a step after itself)"));
                continue;
            }

            if (!seen.Add((from, to)))
            {
                problems.Add(new DefinitionProblem("duplicate-edge", $"edges[{j}]", edge.From, j, $"edge {edge.From} -> {edge.To} is there twice"));
                continue;
            }

            next[from].Add((j, to));
            previous[to].Add(from);

            int Endpoint(string? id, string end)
            {
                if (id is not null && index.TryGetValue(id, out var i))
                {
                    return i;
                }

                problems.Add(new DefinitionProblem("dangling-edge", $"edges[{j}].{end}", null, j, id is null ? $"edge has no '{end}'" : $"edge {end} '{id}': there is no step '{id}'"));
                return -1;
            }
        }

        var unique = index.Values.Order().ToList();

        // Cycles: a depth-first search; an edge back to a step on the current path closes one.
        var colour = new int[steps.Count];
        foreach (var i in unique)
        {
            if (colour[i] == 0)
            {
                Visit(i);
            }
        }

        void Visit(int i)
        {
            colour[i] = 1;
            foreach (var (j, to) in next[i])
            {
                if (colour[to] == 1)
                {
                    problems.Add(new DefinitionProblem("cycle", $"edges[{j}]", steps[to].Id, j, $"edge {steps[i].Id} -> {steps[to].Id} closes a cycle: step '{steps[to].Id}' would run again after itself"));
                }
                else if (colour[to] == 0)
                {
                    Visit(to);
                }
            }

            colour[i] = 2;
        }

        var starts = unique.Where(i => previous[i].Count == 0).ToList();
        if (unique.Count > 0 && starts.Count == 0)
        {
            problems.Add(new DefinitionProblem("no-start", "edges", null, null, "every step has a predecessor: there is no first step"));
        }
        else if (starts.Count > 1)
        {
            foreach (var i in starts)
            {
                problems.Add(new DefinitionProblem("several-starts", $"steps[{i}]", steps[i].Id, null, $"step '{steps[i].Id}' is one of {starts.Count} steps without a predecessor ({string.Join(", ", starts.Select(s => steps[s].Id))}): a definition has one first step; connect them"));
            }
        }

        var reached = new HashSet<int>();
        var queue = new Queue<int>(starts);
        while (queue.TryDequeue(out var i))
        {
            if (reached.Add(i))
            {
                foreach (var (_, to) in next[i])
                {
                    queue.Enqueue(to);
                }
            }
        }

        foreach (var i in unique.Where(i => !reached.Contains(i)))
        {
            problems.Add(new DefinitionProblem("unreachable", $"steps[{i}]", steps[i].Id, null, $"step '{steps[i].Id}' cannot be reached from the first step"));
        }

        if (problems.Count > known || starts.Count != 1)
        {
            return null;
        }

        // Kahn's algorithm, taking the lowest request index that is ready: a chain or a graph listed in a runnable order keeps it.
        for (var i = 0; i < steps.Count; i++)
        {
            before[i] = previous[i];
        }

        var waiting = unique.ToDictionary(i => i, i => previous[i].Count);
        var ready = new SortedSet<int>(unique.Where(i => waiting[i] == 0));
        var order = new List<int>();
        while (ready.Count > 0)
        {
            var i = ready.Min;
            ready.Remove(i);
            order.Add(i);
            foreach (var (_, to) in next[i])
            {
                if (--waiting[to] == 0)
                {
                    ready.Add(to);
                }
            }
        }

        return order;
    }

    /// <summary>What the definition loader (definition schema, activity input schemas, retry policies, duplicate ids, the fork/join
    /// shape) finds in the definition written in <paramref name="order"/>; its step indexes are turned back into the request's.</summary>
    private static IEnumerable<DefinitionProblem> LoaderProblems(DefinitionGraph graph, IReadOnlyList<GraphStep> steps, IReadOnlyList<int> order, IReadOnlyList<List<int>>? after, IReadOnlyList<DefinitionProblem> known)
    {
        try
        {
            _ = DefinitionLoader.Parse(Json(graph, steps, order, after), graph.Id ?? "the definition");
            return [];
        }
        catch (DefinitionValidationException ex)
        {
            var found = new List<DefinitionProblem>();
            foreach (var error in ex.Errors)
            {
                var match = StepField().Match(error.Field);
                var written = match.Success ? int.Parse(match.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : -1;
                var i = written >= 0 && written < order.Count ? order[written] : -1;
                var node = i >= 0 ? steps[i].Id : null;
                var rest = match.Success ? match.Groups[2].Value : string.Empty;
                var field = i >= 0 ? $"steps[{i}]{rest}" : error.Field;
                var code = rest switch
                {
                    ".after" when error.Message.StartsWith("no step runs after", StringComparison.Ordinal) => "unjoined-branch",
                    ".after" when error.Message.StartsWith("step '", StringComparison.Ordinal) && error.Message.Contains(" runs after ", StringComparison.Ordinal) => "join",
                    ".id" when error.Message.StartsWith("duplicate", StringComparison.Ordinal) => "duplicate-step",
                    ".activity" when error.Message.StartsWith("unknown activity", StringComparison.Ordinal) => "unknown-activity",
                    _ when rest.StartsWith(".inputs", StringComparison.Ordinal) => error.Message.EndsWith("(required)", StringComparison.Ordinal) ? "missing-input" : "invalid-input",
                    ".retry" when error.Message.StartsWith("retry.", StringComparison.Ordinal) => "invalid-retry",
                    _ => "schema",
                };

                // Said already, more precisely, by StepProblems.
                if (code is "unknown-activity" or "missing-input" && known.Any(k => k.Code == code && k.Node == node))
                {
                    continue;
                }

                // A shape problem is about the node; its field is the node's, as the graph has no 'after'.
                found.Add(new DefinitionProblem(code, code is "unjoined-branch" or "join" ? $"steps[{i}]" : field, node, null, error.Message));
            }

            return found;
        }
    }

    [GeneratedRegex(@"^steps\[(\d+)\](.*)$")]
    private static partial Regex StepField();
}
