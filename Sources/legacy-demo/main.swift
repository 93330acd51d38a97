print("legacy-demo")
