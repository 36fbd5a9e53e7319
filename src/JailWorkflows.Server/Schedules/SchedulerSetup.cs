using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace JailWorkflows.Server.Schedules;

/// <summary>Quartz.NET on the schedules database: the ADO job store on SQLite (Microsoft.Data.Sqlite), its schema created at start.</summary>
public static class SchedulerSetup
{
    /// <summary>
    /// Adds the Quartz scheduler of the schedules, the schedule journal and <see cref="ScheduleBook"/>: persistent ADO store in
    /// <see cref="ServeOptions.SchedulesPath"/> (SQLite; Quartz creates its tables from its own <c>tables_sqlite.sql</c> when they
    /// are missing, and only creates), misfire threshold and idle wait from the options, the clock from <paramref name="time"/>
    /// (Quartz reads all its times from it). The job (<see cref="ScheduledRuns"/>) needs a <c>JailwfEngine</c> registered too
    /// where the scheduler is started; without one the scheduler is only used to change schedules.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="options">Serve options.</param>
    /// <param name="time">The clock.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddJailwfSchedules(this IServiceCollection services, ServeOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = options.SchedulesPath;
        var journal = new ScheduleJournal(path, time);
        services.AddSingleton(journal);
        services.AddSingleton(options);
        services.AddSingleton<ScheduledRuns>();
        services.AddTransient<ScheduledRunJob>();
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = options.SchedulerName;
                s.IdleWaitTime = options.SchedulerIdleWait;
            });
            q.UseTimeProvider(time);
            q.UseDefaultThreadPool(2);
            q.UsePersistentStore(store =>
            {
                store.UseSqlite(ScheduleJournal.ConnectionString(path));
                store.ProvisionSchema();
                store.ConfigureStore(o =>
                {
                    o.MisfireThreshold = options.MisfireThreshold;
                    o.MisfireHandlerFrequency = options.MisfireThreshold < TimeSpan.FromSeconds(15) ? options.MisfireThreshold : TimeSpan.FromSeconds(15);
                    o.StoreJobDataAsStrings = true;
                });
            });
            q.AddTriggerListener(sp => new MisfireJournal(journal, time), []);
        });
        services.AddSingleton(sp => new ScheduleBook(sp.GetRequiredService<ISchedulerFactory>().GetScheduler().AsTask().GetAwaiter().GetResult(), journal, time));
        return services;
    }
}
