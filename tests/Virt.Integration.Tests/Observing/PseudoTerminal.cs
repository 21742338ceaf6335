using System.Diagnostics;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Observing;

/// <summary>
/// Runs the real `virt` in a real pseudo-terminal (python3's pty module: a pty pair, the window size set,
/// virt's stdin, stdout and stderr on it, as in a terminal emulator) and plays a script against its
/// screen: wait until the screen shows a pattern, then type keys. Returns everything virt drew.
/// </summary>
public static class PseudoTerminal
{
    // The driver: argv = rows cols script-file command...; the script is lines "wait REGEX", "keys TEXT", "end".
    private const string Driver = """
        import fcntl, os, re, select, struct, subprocess, sys, termios, time
        rows, cols, script = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        argv = sys.argv[4:]
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        def child():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        env = dict(os.environ, TERM='xterm-256color', COLUMNS=str(cols), LINES=str(rows))
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=child, env=env, close_fds=True)
        os.close(slave)
        screen = bytearray()
        ansi = re.compile(rb'\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Za-z0-9]|\x1b[=>]')
        def pump(timeout):
            r, _, _ = select.select([master], [], [], timeout)
            if not r: return True
            try: data = os.read(master, 65536)
            except OSError: return False
            if not data: return False
            screen.extend(data)
            return True
        def text(): return ansi.sub(b'', bytes(screen)).decode('utf-8', 'replace')
        status = 0
        for line in open(script).read().splitlines():
            verb, _, arg = line.partition(' ')
            if verb == 'wait':
                deadline = time.time() + 90
                seen = len(text())
                while not re.search(arg, text()[seen:]) and time.time() < deadline:
                    if not pump(0.2) and p.poll() is not None: break
                if not re.search(arg, text()[seen:]):
                    sys.stderr.write('pty driver: no /%s/ on the screen\n' % arg)
                    status = 3
                    break
            elif verb == 'keys':
                os.write(master, arg.encode().decode('unicode_escape').encode())
        if status == 0:
            deadline = time.time() + 60
            while p.poll() is None and time.time() < deadline: pump(0.2)
        while select.select([master], [], [], 0.5)[0]:
            try: data = os.read(master, 65536)
            except OSError: break
            if not data: break
            screen.extend(data)
        if p.poll() is None:
            p.kill()
            status = status or 4
        sys.stdout.write(text())
        sys.stdout.write('\n[pty driver: virt exited %s]\n' % p.wait())
        sys.exit(status or (0 if p.returncode == 0 else 5))
        """;

    /// <summary>Runs `virt args` in a pty of the given size through the script; returns the driver's status and the screen (escape sequences removed).</summary>
    public static async Task<(int Status, string Screen, string Errors)> RunAsync(string runtimeDir, IEnumerable<string> script, int rows, int cols, params string[] args)
    {
        string dir = TempDir.Create("virt-pty");
        string driver = Path.Combine(dir, "driver.py"), scriptFile = Path.Combine(dir, "script");
        File.WriteAllText(driver, Driver);
        File.WriteAllLines(scriptFile, script);
        var (file, prefix) = VirtRun.Locate();
        var psi = new ProcessStartInfo("python3") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[driver, rows.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     cols.ToString(System.Globalization.CultureInfo.InvariantCulture), scriptFile, file, .. prefix, .. args])
            psi.ArgumentList.Add(a);
        psi.Environment["VIRT_RUNTIME_DIR"] = runtimeDir;
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        await p.WaitForExitAsync(cts.Token);
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>The totals a screen showed for a label followed by "(N)", in order: e.g. every frame's instruction count.</summary>
    public static List<long> Totals(string screen, string label) =>
        Regex.Matches(screen, Regex.Escape(label) + @"\s+[\d.,]+(?: M)?/s \(([\d,]+)\)")
            .Select(m => long.Parse(m.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture)).ToList();
}
