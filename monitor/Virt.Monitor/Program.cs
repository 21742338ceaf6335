Console.Error.WriteLine("virt: not yet implemented"); return 2;
