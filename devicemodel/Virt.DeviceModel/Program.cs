Console.Error.WriteLine("virt-dm: not yet implemented"); return 2;
