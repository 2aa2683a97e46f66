QUICK = True
