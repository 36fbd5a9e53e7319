using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace JailWorkflows.Engine.Store;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model; never used at run time.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<JailwfDbContext>
{
    public JailwfDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<JailwfDbContext>();
        StoreServiceCollectionExtensions.Configure(options, "Data Source=design-time.db");
        return new JailwfDbContext(options.Options);
    }
}
