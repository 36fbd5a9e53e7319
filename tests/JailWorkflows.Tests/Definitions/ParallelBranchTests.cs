using JailWorkflows.Engine.Definitions;
using WorkflowCore.Models;
using WorkflowCore.Primitives;

namespace JailWorkflows.Tests.Definitions;

/// <summary>Parallel branches in definitions: the <c>after</c> field, the fork/join shapes the loader accepts and refuses, and how they compile.</summary>
public sealed class ParallelBranchTests
{
    private static WorkflowDocument Parse(string steps) =>
        DefinitionLoader.Parse($$"""{ "id": "x", "version": 1, "steps": [ {{steps}} ] }""", "x.json");

    private static DefinitionError Refused(string steps) =>
        Assert.Single(Assert.Throws<DefinitionValidationException>(() => Parse(steps)).Errors);

    // preflight -> { buildworld | transfer -> strip } -> installworld -> verify
    private const string ForkJoin = """
        { "id": "preflight", "activity": "Preflight" },
        { "id": "buildworld", "activity": "BuildWorld", "after": ["preflight"] },
        { "id": "transfer", "activity": "TransferPartitions", "after": ["preflight"] },
        { "id": "strip", "activity": "Strip" },
        { "id": "installworld", "activity": "InstallWorld", "after": ["buildworld", "strip"] },
        { "id": "verify", "activity": "VerifyJail" }
        """;

    [Fact]
    public void After_left_out_means_the_previous_step_so_a_linear_definition_means_what_it_meant()
    {
        var document = Parse("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip" }, { "id": "c", "activity": "Strip", "after": ["b"] }""");
        Assert.Equal([[], ["a"], ["b"]], document.Steps.Select(s => s.After.ToArray()));
        Assert.Equal(["b", "c"], document.StepsAfter("a").Select(s => s.Id));

        var compiled = DefinitionCompiler.Compile(document);
        Assert.Equal(3, compiled.Steps.Count);
        Assert.Equal([1], compiled.Steps.FindById(0).Outcomes.Select(o => o.NextStep));
        Assert.Equal([2], compiled.Steps.FindById(1).Outcomes.Select(o => o.NextStep));
        Assert.Empty(compiled.Steps.FindById(2).Outcomes);
    }

    [Fact]
    public void A_fork_compiles_to_a_parallel_container_whose_branches_meet_at_the_join()
    {
        var document = Parse(ForkJoin);
        Assert.Equal(["buildworld", "transfer"], document.Successors("preflight").Select(s => s.Id));
        Assert.Equal(["installworld", "verify"], document.StepsAfter("transfer").Skip(1).Select(s => s.Id));
        Assert.DoesNotContain(document.StepsAfter("buildworld"), s => s.Id is "transfer" or "strip");

        var compiled = DefinitionCompiler.Compile(document);

        // The definition's steps keep their indexes as WorkflowCore ids; the container comes after them.
        Assert.Equal(7, compiled.Steps.Count);
        Assert.All(Enumerable.Range(0, 6), i => Assert.Equal(document.Steps[i].Id, compiled.Steps.FindById(i).ExternalId));
        var container = compiled.Steps.FindById(6);
        Assert.Equal(typeof(Sequence), container.BodyType);
        Assert.False(DefinitionCompiler.IsActivityStep(container));
        Assert.True(DefinitionCompiler.IsActivityStep(compiled.Steps.FindById(0)));
        Assert.Equal([6], compiled.Steps.FindById(0).Outcomes.Select(o => o.NextStep));
        Assert.Equal([1, 2], container.Children);
        Assert.Equal([4], container.Outcomes.Select(o => o.NextStep));

        // Each branch ends with its last step; the join runs after the container.
        Assert.Empty(compiled.Steps.FindById(1).Outcomes);
        Assert.Equal([3], compiled.Steps.FindById(2).Outcomes.Select(o => o.NextStep));
        Assert.Empty(compiled.Steps.FindById(3).Outcomes);
        Assert.Equal([5], compiled.Steps.FindById(4).Outcomes.Select(o => o.NextStep));
        Assert.All(compiled.Steps, s => Assert.Equal(WorkflowErrorHandling.Suspend, s.ErrorBehavior));
    }

    [Fact]
    public void Forks_nest_inside_a_branch_and_may_share_the_outer_join()
    {
        // a -> { b -> { c | d } -> e | f } -> g, and a second fork h -> { i | j } whose inner fork i -> { k | l } ends at the outer join m.
        var document = Parse("""
            { "id": "a", "activity": "Strip" },
            { "id": "b", "activity": "Strip" },
            { "id": "c", "activity": "Strip" },
            { "id": "d", "activity": "Strip", "after": ["b"] },
            { "id": "e", "activity": "Strip", "after": ["c", "d"] },
            { "id": "f", "activity": "Strip", "after": ["a"] },
            { "id": "g", "activity": "Strip", "after": ["e", "f"] },
            { "id": "h", "activity": "Strip" },
            { "id": "i", "activity": "Strip" },
            { "id": "j", "activity": "Strip", "after": ["h"] },
            { "id": "k", "activity": "Strip", "after": ["i"] },
            { "id": "l", "activity": "Strip", "after": ["i"] },
            { "id": "m", "activity": "Strip", "after": ["j", "k", "l"] }
            """);
        var compiled = DefinitionCompiler.Compile(document);
        var containers = compiled.Steps.Where(s => !DefinitionCompiler.IsActivityStep(s)).ToDictionary(s => s.Name);
        Assert.Equal(4, containers.Count);
        Assert.Equal([1, 5], containers["branches after a"].Children);
        Assert.Equal([2, 3], containers["branches after b"].Children);
        Assert.Equal([4], containers["branches after b"].Outcomes.Select(o => o.NextStep));
        Assert.Equal([6], containers["branches after a"].Outcomes.Select(o => o.NextStep));

        // The inner fork i is the last element of its branch: its container has no outcome, the outer one goes on to m.
        Assert.Equal([8, 9], containers["branches after h"].Children);
        Assert.Equal([10, 11], containers["branches after i"].Children);
        Assert.Empty(containers["branches after i"].Outcomes);
        Assert.Equal([12], containers["branches after h"].Outcomes.Select(o => o.NextStep));
    }

    [Fact]
    public void An_edge_from_the_fork_straight_to_its_join_adds_nothing_and_is_accepted()
    {
        var document = Parse("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip" }, { "id": "c", "activity": "Strip", "after": ["a", "b"] }""");
        var container = Assert.Single(DefinitionCompiler.Compile(document).Steps, s => !DefinitionCompiler.IsActivityStep(s));
        Assert.Equal([1], container.Children);
        Assert.Equal([2], container.Outcomes.Select(o => o.NextStep));
    }

    [Fact]
    public void Bad_after_names_are_named_by_field()
    {
        var unknown = Refused("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip", "after": ["nope"] }""");
        Assert.Equal("steps[1].after[0]", unknown.Field);
        Assert.Contains("there is no step 'nope'", unknown.Message, StringComparison.Ordinal);

        var itself = Refused("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip", "after": ["a", "b"] }""");
        Assert.Equal("steps[1].after[1]", itself.Field);
        Assert.Contains("cannot run after itself", itself.Message, StringComparison.Ordinal);

        // A step further down: also what a cycle looks like.
        var later = Refused("""{ "id": "a", "activity": "Strip", "after": ["b"] }, { "id": "b", "activity": "Strip" }""");
        Assert.Equal("steps[0].after[0]", later.Field);
        Assert.Contains("move 'a' below 'b'", later.Message, StringComparison.Ordinal);

        var twice = Refused("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip", "after": ["a", "a"] }""");
        Assert.Equal("steps[1].after[1]", twice.Field);

        var secondStart = Refused("""{ "id": "a", "activity": "Strip" }, { "id": "b", "activity": "Strip", "after": [] }""");
        Assert.Equal("steps[1].after", secondStart.Field);
        Assert.Contains("'a' is the first step", secondStart.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_branch_that_ends_while_the_others_go_on_is_refused_naming_its_last_step()
    {
        var error = Refused("""
            { "id": "preflight", "activity": "Preflight" },
            { "id": "buildworld", "activity": "BuildWorld" },
            { "id": "transfer", "activity": "TransferPartitions", "after": ["preflight"] },
            { "id": "strip", "activity": "Strip" }
            """);
        Assert.Equal("steps[1].after", error.Field);
        Assert.StartsWith("no step runs after step 'buildworld', but the definition goes on to 'strip'", error.Message, StringComparison.Ordinal);
        Assert.Contains("list 'buildworld' in the 'after' of the step where its branch meets the others", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_join_of_branches_of_different_forks_is_refused_naming_the_join()
    {
        // s -> { a -> { c | d } | b }, with d after a and b: d joins a branch of s with a branch of a.
        var error = Refused("""
            { "id": "s", "activity": "Strip" },
            { "id": "a", "activity": "Strip" },
            { "id": "b", "activity": "Strip", "after": ["s"] },
            { "id": "c", "activity": "Strip", "after": ["a"] },
            { "id": "d", "activity": "Strip", "after": ["a", "b"] },
            { "id": "e", "activity": "Strip", "after": ["c", "d"] }
            """);
        Assert.Equal("steps[4].after", error.Field);
        Assert.StartsWith("step 'd' runs after 'a', 'b', which lie in different branches of the fork 's' (they meet only at 'e')", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_join_of_some_branches_of_a_fork_only_is_refused_naming_the_join()
    {
        var error = Refused("""
            { "id": "f", "activity": "Strip" },
            { "id": "a", "activity": "Strip", "after": ["f"] },
            { "id": "b", "activity": "Strip", "after": ["f"] },
            { "id": "c", "activity": "Strip", "after": ["f"] },
            { "id": "j1", "activity": "Strip", "after": ["a", "b"] },
            { "id": "j2", "activity": "Strip", "after": ["j1", "c"] }
            """);
        Assert.Equal("steps[4].after", error.Field);
        Assert.Contains("step 'j1' runs after 'a', 'b'", error.Message, StringComparison.Ordinal);
        Assert.Contains("let it join all branches of 'f'", error.Message, StringComparison.Ordinal);
    }
}
